.PHONY: setup lite test proto lint

# bootstrap installs uv with `pip --user` on a fresh machine; make it findable here too.
export PATH := $(HOME)/.local/bin:$(PATH)

setup:
	./scripts/bootstrap.sh

lite: setup
	uv run leoflow lite

test:
	./scripts/test.sh

proto:
	uv run python scripts/gen_proto.py
	node_modules/.bin/buf lint proto

lint:
	uv run ruff check .
	uv run lint-imports
