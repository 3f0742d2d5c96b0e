# How a part that links the shared libraries (re)builds them: included by
# collector/, gateway/ and tests/ after their first rule, so that `all`
# stays their default goal.

$(CONFIG_LIB): FORCE
	@$(MAKE) -s -C $(TOP)/config O=$(O) SAN=$(SAN)
$(COMMON_LIB): FORCE
	@$(MAKE) -s -C $(TOP)/common O=$(O) SAN=$(SAN)

FORCE:
.PHONY: FORCE
