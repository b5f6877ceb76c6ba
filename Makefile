# SPDX-License-Identifier: GPL-2.0
#
# foxramdisk: build, test and demo entry points. See README.md.
#
#   make [modules]      build foxramdisk.ko against the lab kernel (built on first use), or
#                       against your own Rust-enabled kernel tree with KDIR=/path/to/build
#   make check          build everything and run the whole test suite in the VM
#   make check-debug    the same on the debug kernel (KASAN), with kmemleak on
#   make demo           build everything, boot the VM and show the driver at work
#   make bench          the same fio jobs on foxramdisk, zram and brd in one VM run
#   make profile        one fio job per device under perf in the VM (PROFILE_* settings)
#   make vm [RUN=cmd]   a shell in the VM, or run one command there and exit with its status
#   make clippy         the module built with CLIPPY=1 (warnings are errors)
#   make fmt            rustfmt src/ (fmt-check: only check)
#   make install        install the module for KDIR, foxramdiskctl and swap at boot
#                       (foxramdisk-swap, its systemd unit and /etc/foxramdisk/swap.conf)
#   make lab            build the toolchain root and the kernel only
#   make clean          remove build outputs

KDIR ?=

.PHONY: all modules check check-debug demo bench profile vm clippy fmt fmt-check lab clean install

all: modules

ifeq ($(KDIR),)
modules:
	@bash scripts/build.sh modules
clean:
	@bash scripts/build.sh clean
else
modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=1 modules
clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=1 clean
endif

check:
	@bash scripts/check.sh

check-debug:
	@FOXRAMDISK_KERNEL=debug bash scripts/check.sh

demo:
	@bash scripts/demo.sh

bench:
	@bash scripts/bench.sh

profile:
	@bash scripts/profile.sh

# $(value RUN) is the command exactly as given: make must not expand the $(...) and $VAR
# of shell syntax in it. It is passed to the shell in single quotes.
vm:
	@bash scripts/vm.sh $(if $(value RUN),'$(subst ','\'',$(value RUN))')

clippy:
	@bash scripts/build.sh CLIPPY=1 modules

fmt:
	@bash scripts/fmt.sh

fmt-check:
	@bash scripts/fmt.sh --check

lab:
	@bash scripts/lab-kernel.sh

install:
	@KDIR='$(KDIR)' bash scripts/install.sh
