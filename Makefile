# svinit — see README.md. Every target works from a clean clone.
GO ?= go
export GOFLAGS := -buildvcs=false
OUT ?= out

.PHONY: all test deps qemu unit lint fuzz bench image run kernel integration clean

all: image

## test: every test (lint, unit, host supervision, s6 compatibility, fuzz seeds, boot tests).
## First installs the Debian packages the tests need (as root; as another user it
## stops with the apt-get line to run). Ends with the skipped tests and their reasons,
## then "N passed, N failed, N skipped". TESTFLAGS=-short leaves out the slow ones.
test: deps lint unit

## deps: install the Debian packages the tests need (scripts/deps.sh).
deps:
	@./scripts/deps.sh

TESTFLAGS ?=
unit: deps
	$(GO) run ./scripts/testsummary $(GO) test -count=1 -timeout 30m $(TESTFLAGS) ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "lint: go.mod/go.sum are not tidy (the diff above): run go mod tidy" >&2; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

## fuzz: run each fuzz target for FUZZTIME (default 10s).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf $(OUT)

## image: build $(OUT)/initramfs.cpio.xz from images/default.yaml (IMAGE=images/x.yaml for another).
IMAGE ?= images/default.yaml
MKIMAGE_FLAGS ?=
image: kernel
	$(GO) run ./cmds/mkimage -o $(OUT)/initramfs.cpio.xz $(MKIMAGE_FLAGS) $(IMAGE)

## kernel: fetch and cache the Debian kernel (.cache/kernel), print the vmlinuz path.
kernel:
	@./scripts/kernel.sh

# qemu: install qemu-system-x86 if missing (as root; otherwise the apt-get line to run).
qemu:
	@./scripts/deps.sh qemu-system-x86

## run: boot the image in QEMU on the serial console; the VM exits when the guest powers off.
## KVM is used only when it really works here: the kernel, booted under KVM without an
## initramfs, reaches its panic and QEMU exits within 5 s (ACCEL=tcg or ACCEL=kvm to force).
QEMU ?= qemu-system-x86_64
APPEND ?=
ACCEL ?=
run: qemu image
	@kernel=$$(./scripts/kernel.sh -q); \
	accel="$(ACCEL)"; \
	if [ -z "$$accel" ]; then \
		accel=tcg; \
		if [ -w /dev/kvm ]; then \
			timeout 5 $(QEMU) -accel kvm -cpu host -m 256 -display none -monitor none -serial none -no-reboot \
				-kernel "$$kernel" -append "panic=-1 quiet" </dev/null >/dev/null 2>&1 && accel=kvm; \
		fi; \
	fi; \
	cpu=max; [ "$$accel" = kvm ] && cpu=host; \
	echo "run: $$kernel + $(OUT)/initramfs.cpio.xz (accel $$accel; quit: poweroff in the guest, or Ctrl-A X)"; \
	exec $(QEMU) -accel $$accel -cpu $$cpu -m 512 -smp 2 -nographic -no-reboot \
		-kernel "$$kernel" -initrd $(OUT)/initramfs.cpio.xz \
		-append "console=ttyS0 panic=-1 loglevel=4 $(APPEND)" \
		-netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
		-device virtio-rng-pci

## bench: every benchmark side by side with s6, runit and u-root (ROUNDS=N rounds, default 3);
## writes $(OUT)/bench.json and docs/benchmarks.md. About 10 minutes on 2 cores.
bench:
	ROUNDS=$(or $(ROUNDS),3) OUT=$(OUT) ./scripts/bench/bench.sh
