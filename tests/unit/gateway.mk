# tests/unit/gateway.mk -- cmocka unit tests of the gateway's pure logic.
# Included from tests/Makefile after its `BIN := ...` line, so $(OUTP), $(BIN),
# $(CONFIG_LIB) and the compile rule are those of the tests part. Each test
# links the gateway objects it tests straight from gateway/.

GATEWAY_UNIT = test_gateway_request test_gateway_queue test_gateway_access
GATEWAY_OBJ := $(if $(OUTP),$(OUTP:tests/=gateway/),$(TOP)/gateway/)

# Adds to the part's `all` (first rule here, so `all` stays the default goal
# wherever the include line is).
all: $(addprefix $(BIN)/,$(GATEWAY_UNIT))

$(BIN)/test_gateway_request: $(OUTP)unit/test_gateway_request.o $(GATEWAY_OBJ)request.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -ljansson

$(BIN)/test_gateway_queue: $(OUTP)unit/test_gateway_queue.o $(GATEWAY_OBJ)queue.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

$(BIN)/test_gateway_access: $(OUTP)unit/test_gateway_access.o $(GATEWAY_OBJ)access.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

$(GATEWAY_OBJ)request.o $(GATEWAY_OBJ)queue.o $(GATEWAY_OBJ)access.o:
	$(MAKE) -C ../gateway O=$(O) SAN=$(SAN)
