# tests/unit/gateway.mk -- cmocka unit tests of the gateway's pure logic.
# Included from tests/Makefile after its `BIN := ...` line, so $(OUTP), $(BIN),
# $(COMMON_LIB) and the compile rule are those of the tests part. Each test
# links the gateway objects it tests straight from gateway/, and the shared
# runtime (allocation, assertions, key names) from common/.

GATEWAY_UNIT = test_gateway_client_request test_gateway_channel test_gateway_ratelimit \
               test_gateway_outqueue test_gateway_chantable test_gateway_history \
               test_gateway_access test_gateway_fanout test_gateway_invscan \
               test_gateway_hostile test_gateway_inventory test_gateway_admit \
               test_gateway_sendbatch
GATEWAY_OBJ := $(if $(OUTP),$(OUTP:tests/=gateway/),$(TOP)/gateway/)
GATEWAY_TESTED := client_request channel ratelimit outmsg outqueue chantable history access \
                  history_reads fanout invscan throttle lograte rxscan webpath hostnames inventory \
                  proxyproto addrlimit eventlist sendbatch

# Adds to the part's `all` (first rule here, so `all` stays the default goal
# wherever the include line is).
all: $(addprefix $(BIN)/,$(GATEWAY_UNIT))

$(BIN)/test_gateway_client_request: $(OUTP)unit/test_gateway_client_request.o \
		$(GATEWAY_OBJ)client_request.o $(GATEWAY_OBJ)channel.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -ljansson

$(BIN)/test_gateway_channel: $(OUTP)unit/test_gateway_channel.o $(GATEWAY_OBJ)channel.o \
		$(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

$(BIN)/test_gateway_ratelimit: $(OUTP)unit/test_gateway_ratelimit.o $(GATEWAY_OBJ)ratelimit.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

$(BIN)/test_gateway_outqueue: $(OUTP)unit/test_gateway_outqueue.o $(GATEWAY_OBJ)outqueue.o \
		$(GATEWAY_OBJ)outmsg.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

$(BIN)/test_gateway_chantable: $(OUTP)unit/test_gateway_chantable.o \
		$(GATEWAY_OBJ)chantable.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# history.c and history_reads.c (with inventory.c, where a pattern's
# channels come from) with Redis replaced by the test's pubsub_get() and
# pubsub_lrange().
$(BIN)/test_gateway_history: $(OUTP)unit/test_gateway_history.o $(GATEWAY_OBJ)history.o \
		$(GATEWAY_OBJ)history_reads.o $(GATEWAY_OBJ)channel.o $(GATEWAY_OBJ)outmsg.o \
		$(GATEWAY_OBJ)invscan.o $(GATEWAY_OBJ)chantable.o $(GATEWAY_OBJ)inventory.o \
		$(GATEWAY_OBJ)access.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -ljansson

# fanout.c (with history.c) with Redis replaced by the test's pubsub_*().
$(BIN)/test_gateway_fanout: $(OUTP)unit/test_gateway_fanout.o $(GATEWAY_OBJ)fanout.o \
		$(GATEWAY_OBJ)history.o $(GATEWAY_OBJ)history_reads.o $(GATEWAY_OBJ)chantable.o \
		$(GATEWAY_OBJ)channel.o $(GATEWAY_OBJ)outmsg.o $(GATEWAY_OBJ)invscan.o \
		$(GATEWAY_OBJ)inventory.o $(GATEWAY_OBJ)eventlist.o $(GATEWAY_OBJ)access.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -ljansson -luv

# invscan.c against jansson: the same channels from the same text.
$(BIN)/test_gateway_invscan: $(OUTP)unit/test_gateway_invscan.o $(GATEWAY_OBJ)invscan.o \
		$(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -ljansson

$(BIN)/test_gateway_access: $(OUTP)unit/test_gateway_access.o $(GATEWAY_OBJ)access.o \
		$(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# What bounds a hostile client's cost: throttle, log rate, the scan of
# what lws reads, the paths of web_root, the Host check's default names.
$(BIN)/test_gateway_hostile: $(OUTP)unit/test_gateway_hostile.o $(GATEWAY_OBJ)throttle.o \
		$(GATEWAY_OBJ)lograte.o $(GATEWAY_OBJ)rxscan.o $(GATEWAY_OBJ)proxyproto.o \
		$(GATEWAY_OBJ)webpath.o $(GATEWAY_OBJ)hostnames.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# Whose connection it is and what one address may hold: the PROXY
# protocol header (alone and in the scan of what lws reads), the counts
# per client address.
$(BIN)/test_gateway_admit: $(OUTP)unit/test_gateway_admit.o $(GATEWAY_OBJ)proxyproto.o \
		$(GATEWAY_OBJ)rxscan.o $(GATEWAY_OBJ)addrlimit.o $(GATEWAY_OBJ)throttle.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# inventory.c with Redis replaced by the test's pubsub_get(); a restricted
# token's view against the jansson tree filter it replaced.
$(BIN)/test_gateway_inventory: $(OUTP)unit/test_gateway_inventory.o $(GATEWAY_OBJ)inventory.o \
		$(GATEWAY_OBJ)invscan.o $(GATEWAY_OBJ)access.o $(GATEWAY_OBJ)outmsg.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -ljansson

# On real socketpairs and a real io_uring.
$(BIN)/test_gateway_sendbatch: $(OUTP)unit/test_gateway_sendbatch.o $(GATEWAY_OBJ)sendbatch.o \
		$(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -luring

$(addprefix $(GATEWAY_OBJ),$(addsuffix .o,$(GATEWAY_TESTED))):
	$(MAKE) -C ../gateway O=$(O) SAN=$(SAN)
