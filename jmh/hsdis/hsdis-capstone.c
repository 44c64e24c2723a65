/*
 * A minimal HotSpot disassembler plugin (the JDK's hsdis interface) on Capstone, for reading what
 * C2 made of a benchmark (`-prof perfasm`, `-XX:+PrintAssembly`). x86-64 only, Intel syntax.
 *
 *   apt-get install libcapstone-dev
 *   gcc -O2 -shared -fPIC -o hsdis-amd64.so hsdis-capstone.c -lcapstone
 *   cp hsdis-amd64.so "$JAVA_HOME/lib/"      # or put its directory on LD_LIBRARY_PATH
 */
#include <capstone/capstone.h>
#include <stddef.h>
#include <stdint.h>

typedef void *(*event_callback_t)(void *, const char *, void *);
typedef int (*printf_callback_t)(void *, const char *, ...);

void *decode_instructions_virtual(uintptr_t start_va, uintptr_t end_va, unsigned char *buffer,
                                  uintptr_t length, event_callback_t event, void *event_stream,
                                  printf_callback_t print, void *print_stream, const char *options,
                                  int newline) {
    csh handle;
    cs_insn *insn;
    (void) end_va;
    (void) options;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) {
        return NULL;
    }
    cs_option(handle, CS_OPT_SYNTAX, CS_OPT_SYNTAX_INTEL);
    cs_option(handle, CS_OPT_SKIPDATA, CS_OPT_ON); /* constants in the code: keep going */
    size_t n = cs_disasm(handle, buffer, length, start_va, 0, &insn);
    for (size_t i = 0; i < n; i++) {
        event(event_stream, "insn", (void *) (uintptr_t) insn[i].address);
        print(print_stream, "%s\t%s", insn[i].mnemonic, insn[i].op_str);
        event(event_stream, "/insn", (void *) (uintptr_t) (insn[i].address + insn[i].size));
        if (newline) {
            print(print_stream, "\n");
        }
    }
    if (n > 0) {
        cs_free(insn, n);
    }
    cs_close(&handle);
    return NULL;
}
