# Convenience targets; the README's two commands are the supported entry points.
.PHONY: all install demo test
all:
	go build ./...
install:
	bash scripts/install.sh
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
-include mk/*.mk
