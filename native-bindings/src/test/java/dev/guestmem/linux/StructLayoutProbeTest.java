package dev.guestmem.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.PaddingLayout;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks every struct layout and constant of the Java bindings against the C compiler: a C file
 * including {@code jextract/guestmem_linux.h} prints {@code sizeof}/{@code offsetof} of every struct
 * and field and the value of every constant, one {@code name value} line each, and each line is
 * compared with the Java side. The list of what to probe is derived from the Java classes (every
 * layout member, every {@code field$offset()} method, every constant method of {@link Linux}), and
 * the Java classes are checked against {@code jextract/symbols.txt}, so nothing is left out.
 */
class StructLayoutProbeTest {
    /** Every struct class; checked against symbols.txt's --include-struct list. */
    static final List<Class<?>> STRUCTS = List.of(timespec.class, stat.class, statfs.class, pollfd.class, iovec.class,
            msghdr.class, cmsghdr.class, sockaddr_un.class, ucred.class, uffdio_api.class, uffdio_range.class,
            uffdio_register.class, uffdio_copy.class, uffdio_zeropage.class, uffdio_writeprotect.class,
            uffdio_continue.class, uffd_msg.class);

    /** Accessors that flatten a union arm: Java name to C member path. */
    static final Map<String, String> ALIASES = Map.of(
            "uffd_msg.flags", "arg.pagefault.flags",
            "uffd_msg.address", "arg.pagefault.address",
            "uffd_msg.ptid", "arg.pagefault.feat.ptid",
            "uffd_msg.fork_ufd", "arg.fork.ufd",
            "uffd_msg.remap_from", "arg.remap.from",
            "uffd_msg.remap_to", "arg.remap.to",
            "uffd_msg.remap_len", "arg.remap.len",
            "uffd_msg.remove_start", "arg.remove.start",
            "uffd_msg.remove_end", "arg.remove.end");

    static final Pattern CONSTANT_NAME = Pattern.compile("_?[A-Z][A-Za-z0-9_]*");
    static final Path KIT = Path.of("jextract");

    /** Probe key to the value the Java side has. */
    static final Map<String, Long> EXPECTED = new LinkedHashMap<>();
    /** Probe key to the C expression that computes it. */
    static final Map<String, String> C_EXPR = new LinkedHashMap<>();

    @BeforeAll
    static void collect() throws Exception {
        for (Class<?> s : STRUCTS) {
            String name = s.getSimpleName();
            GroupLayout layout = (GroupLayout) s.getMethod("layout").invoke(null);
            probe("sizeof " + name, (Long) s.getMethod("sizeof").invoke(null), "sizeof(struct " + name + ")");
            walk(name, layout, layout, "", new ArrayList<>());
        }
        for (Method m : constantMethods()) {
            probe("const " + m.getName(), ((Number) m.invoke(null)).longValue(), m.getName());
        }
        for (int n = 0; n <= 5; n++) {
            probe("CMSG_LEN " + (4 * n), Linux.CMSG_LEN(4L * n), "CMSG_LEN(" + (4 * n) + ")");
            probe("CMSG_SPACE " + (4 * n), Linux.CMSG_SPACE(4L * n), "CMSG_SPACE(" + (4 * n) + ")");
        }
    }

    static void probe(String key, long javaValue, String cExpr) {
        EXPECTED.put(key, javaValue);
        C_EXPR.put(key, cExpr);
    }

    /** Every member reached from the struct, with the offset and size the Java layout gives it. */
    static void walk(String struct, GroupLayout root, GroupLayout group, String prefix, List<PathElement> path) {
        for (MemoryLayout member : group.memberLayouts()) {
            if (member instanceof PaddingLayout) {
                continue;
            }
            String name = member.name().orElseThrow(() -> new AssertionError(struct + ": unnamed member"));
            String cPath = prefix + name;
            List<PathElement> p = new ArrayList<>(path);
            p.add(PathElement.groupElement(name));
            PathElement[] pe = p.toArray(PathElement[]::new);
            probe("offsetof " + struct + " " + cPath, root.byteOffset(pe), "offsetof(struct " + struct + ", " + cPath + ")");
            probe("fieldsize " + struct + " " + cPath, member.byteSize(), "sizeof(((struct " + struct + " *) 0)->" + cPath + ")");
            if (member instanceof GroupLayout g) {
                walk(struct, root, g, cPath + ".", p);
            }
        }
    }

    static List<Method> constantMethods() {
        List<Method> out = new ArrayList<>();
        for (Method m : Linux.class.getDeclaredMethods()) {
            Class<?> r = m.getReturnType();
            if (Modifier.isPublic(m.getModifiers()) && Modifier.isStatic(m.getModifiers()) && m.getParameterCount() == 0
                    && (r == int.class || r == long.class) && CONSTANT_NAME.matcher(m.getName()).matches()) {
                out.add(m);
            }
        }
        out.sort((a, b) -> a.getName().compareTo(b.getName()));
        return out;
    }

    static Set<String> symbols(String option) throws IOException {
        return Files.readAllLines(KIT.resolve("symbols.txt")).stream()
                .map(l -> l.replaceFirst("#.*", "").trim())
                .filter(l -> l.startsWith(option + " "))
                .map(l -> l.substring(option.length()).trim())
                .collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    void javaSideMatchesSymbolList() throws Exception {
        assertEquals(symbols("--include-struct"),
                STRUCTS.stream().map(Class::getSimpleName).collect(Collectors.toCollection(TreeSet::new)));
        assertEquals(symbols("--include-constant"),
                constantMethods().stream().map(Method::getName).collect(Collectors.toCollection(TreeSet::new)));
        for (String f : symbols("--include-function")) {
            // links every downcall (holders initialise lazily), so a bad descriptor or option fails here
            FunctionDescriptor d = (FunctionDescriptor) Linux.class.getMethod(f + "$descriptor").invoke(null);
            MethodHandle h = (MethodHandle) Linux.class.getMethod(f + "$handle").invoke(null);
            MemorySegment a = (MemorySegment) Linux.class.getMethod(f + "$address").invoke(null);
            assertEquals(d.argumentLayouts().size() + 1, h.type().parameterCount(), f + ": errno capture + C parameters");
            assertTrue(a.address() != 0, f);
            assertTrue(List.of(Linux.class.getMethods()).stream().anyMatch(m -> m.getName().equals(f)), f);
        }
    }

    /** Every field$offset()/field$layout() accessor agrees with the layout it belongs to. */
    @Test
    void accessorsAgreeWithLayouts() throws Exception {
        for (Class<?> s : STRUCTS) {
            GroupLayout layout = (GroupLayout) s.getMethod("layout").invoke(null);
            assertEquals(layout.byteSize(), (Long) s.getMethod("sizeof").invoke(null));
            assertEquals(layout.byteSize(), s.getField("SIZEOF").getLong(null));
            int accessors = 0;
            for (Method m : s.getDeclaredMethods()) {
                if (!m.getName().endsWith("$offset")) {
                    continue;
                }
                accessors++;
                String field = m.getName().substring(0, m.getName().length() - "$offset".length());
                String cPath = ALIASES.getOrDefault(s.getSimpleName() + "." + field, field);
                PathElement[] pe = List.of(cPath.split("\\.")).stream().map(PathElement::groupElement)
                        .toArray(PathElement[]::new);
                assertEquals(layout.byteOffset(pe), (Long) m.invoke(null), s.getSimpleName() + "." + field);
                assertEquals(layout.select(pe), s.getMethod(field + "$layout").invoke(null), s.getSimpleName() + "." + field);
            }
            long named = layout.memberLayouts().stream().filter(l -> !(l instanceof PaddingLayout)).count();
            long aliases = ALIASES.keySet().stream().filter(k -> k.startsWith(s.getSimpleName() + ".")).count();
            assertEquals(named + aliases, accessors, s.getSimpleName() + ": one accessor set per member");
        }
    }

    @Test
    void layoutsAndConstantsMatchC(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(gccPresent(), "gcc is not installed: struct layouts and constants were not checked against C");
        StringBuilder c = new StringBuilder();
        c.append("#include \"guestmem_linux.h\"\n#include <stddef.h>\n#include <stdio.h>\nint main(void) {\n");
        for (Map.Entry<String, String> e : C_EXPR.entrySet()) {
            c.append("    printf(\"%s %lld\\n\", \"").append(e.getKey()).append("\", (long long) (")
                    .append(e.getValue()).append("));\n");
        }
        c.append("    return 0;\n}\n");
        Path src = tmp.resolve("probe.c");
        Path exe = tmp.resolve("probe");
        Files.writeString(src, c);
        run(tmp, "gcc", "-std=gnu11", "-Wall", "-Werror", "-I", KIT.toAbsolutePath().toString(), src.toString(),
                "-o", exe.toString());
        String out = run(tmp, exe.toString());

        Map<String, Long> actual = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            int sp = line.lastIndexOf(' ');
            actual.put(line.substring(0, sp), Long.parseLong(line.substring(sp + 1)));
        }
        List<String> mismatches = new ArrayList<>();
        for (Map.Entry<String, Long> e : EXPECTED.entrySet()) {
            Long cValue = actual.get(e.getKey());
            if (!e.getValue().equals(cValue)) {
                mismatches.add(e.getKey() + ": Java " + e.getValue() + ", C " + cValue);
            }
        }
        assertEquals(EXPECTED.size(), actual.size(), "every probe printed one line");
        assertTrue(mismatches.isEmpty(), "Java disagrees with C:\n" + String.join("\n", mismatches));
        assertTrue(EXPECTED.size() > 300, "probed " + EXPECTED.size() + " values");
        System.out.println("StructLayoutProbeTest: " + EXPECTED.size() + " values agree with gcc");
    }

    static boolean gccPresent() {
        try {
            Process p = new ProcessBuilder("gcc", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    static String run(Path dir, String... command) throws Exception {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(String.join(" ", command) + " timed out");
        }
        if (p.exitValue() != 0) {
            fail(String.join(" ", command) + " exited " + p.exitValue() + ":\n" + out);
        }
        return out;
    }
}
