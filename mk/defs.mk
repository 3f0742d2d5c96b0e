# Build settings shared by every part's Makefile (included, never run alone).
#
#   O=DIR     where objects and binaries go (default: next to the sources)
#   SAN=1     AddressSanitizer + UndefinedBehaviorSanitizer build
#
# The root Makefile builds the plain variant in place and the sanitizer
# variant under build/asan, so both can coexist.

TOP     := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
O       ?= .
CC      ?= gcc
VERSION := $(shell cat $(TOP)/VERSION 2>/dev/null || echo 0.0.0)

WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) -I$(TOP)/common -I$(TOP)/config -DIFMON_VERSION='"$(VERSION)"'
LDFLAGS ?=

ifeq ($(SAN),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# Output prefix of a part (it sets PART before including this file): empty
# for the in-place build, "$(O)/$(PART)/" otherwise.
OUTP := $(if $(filter .,$(O)),,$(abspath $(O))/$(PART)/)
CONFIG_LIB := $(if $(filter .,$(O)),$(TOP)/config/,$(abspath $(O))/config/)libifmon-config.a
COMMON_LIB := $(if $(filter .,$(O)),$(TOP)/common/,$(abspath $(O))/common/)libifmon-common.a
# What a daemon or test links to have the configuration: the loader, then
# the runtime it uses (order matters to the static linker).
SHARED_LIBS := $(CONFIG_LIB) $(COMMON_LIB)

$(OUTP)%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

