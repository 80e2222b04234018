.PHONY: setup lite test proto lint

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
