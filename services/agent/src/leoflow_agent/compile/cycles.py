"""Find a dependency cycle, so the error can name it: "a -> b -> c -> a"."""

from __future__ import annotations

from collections.abc import Mapping, Set


def find_cycle(downstream: Mapping[str, Set[str]]) -> list[str] | None:
    """A cycle as a closed path of task ids, or None. Deterministic: ids are visited sorted."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(downstream, white)
    for start in sorted(downstream):
        if color[start] != white:
            continue
        # Iterative DFS: (node, sorted children, next child index); `path` mirrors the stack.
        stack = [(start, sorted(downstream[start]), 0)]
        path = [start]
        color[start] = grey
        while stack:
            node, children, index = stack[-1]
            if index == len(children):
                stack.pop()
                path.pop()
                color[node] = black
                continue
            stack[-1] = (node, children, index + 1)
            child = children[index]
            if color.get(child, black) == grey:
                return path[path.index(child):] + [child]
            if color.get(child) == white:
                color[child] = grey
                stack.append((child, sorted(downstream[child]), 0))
                path.append(child)
    return None
