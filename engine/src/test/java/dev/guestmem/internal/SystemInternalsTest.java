package dev.guestmem.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The seam between {@link MemorySystem} and the engine's other packages stays off the API: the
 * module does not export {@code dev.guestmem.internal}, and the operations region and discard code
 * reach through it are no public methods of {@link MemorySystem}.
 */
class SystemInternalsTest {
    private static final String INTERNAL = "dev.guestmem.internal";

    /** What region and discard code asks of its system; none of it is for users. */
    private static final Set<String> INTERNAL_OPERATIONS = Set.of("markIoeventfdUpdatePending",
            "flushCoalescedSet", "coalescedRangeChanged", "regionEventfdsAppeared", "regionEventfdsGone",
            "markUpdatePending", "invalidate", "invalidateRootOnly", "find", "asOneNotification");

    @Test
    void moduleDoesNotExportTheInternalPackage() throws IOException, URISyntaxException {
        ModuleDescriptor engine = engineDescriptor();
        assertEquals("dev.guestmem.engine", engine.name());
        // javac records no package list (ModulePackages): the seam's class is the module's by where it is.
        assertEquals(INTERNAL, SystemInternals.class.getPackageName());
        assertEquals(codeSource(MemorySystem.class), codeSource(SystemInternals.class));
        assertTrue(exported(engine, "dev.guestmem"), "the facade's package is exported");
        assertFalse(exported(engine, INTERNAL), "exported, to everyone or to some modules");
        assertFalse(engine.opens().stream().anyMatch(o -> o.source().equals(INTERNAL)), "opened");
        assertFalse(engine.isOpen(), "an open module opens every package");
        // On the module path (the launcher), the running module says the same.
        Module running = MemorySystem.class.getModule();
        if (running.isNamed()) {
            assertFalse(running.isExported(INTERNAL));
        }
    }

    @Test
    void memorySystemHasNoPublicInternalOperation() {
        List<String> leaked = Arrays.stream(MemorySystem.class.getMethods())
                .map(Method::getName)
                .filter(INTERNAL_OPERATIONS::contains)
                .sorted()
                .toList();
        assertEquals(List.of(), leaked);
    }

    /** Only MemorySystem's class initialisation installs the access; a second install is refused. */
    @Test
    void accessIsInstalledOnceByMemorySystem() {
        MemorySystem system = new MemorySystem();
        RamRegion ram = RamRegion.allocate(system, null, "ram", 0x1000);
        system.addressSpace(ram, "memory");
        SystemInternals.Access impostor = (SystemInternals.Access) Proxy.newProxyInstance(
                SystemInternals.Access.class.getClassLoader(), new Class<?>[] {SystemInternals.Access.class},
                (proxy, method, args) -> {
                    throw new AssertionError("impostor called: " + method.getName());
                });
        assertThrows(IllegalStateException.class, () -> SystemInternals.setAccess(impostor));
        // The system's own access still answers.
        MemoryRegionSection s = SystemInternals.find(system, ram, 0x10, 4);
        assertSame(ram, s.region());
        assertEquals(0x10, s.offsetWithinAddressSpace());
        assertEquals(4, s.size());
    }

    private static Path codeSource(Class<?> c) throws URISyntaxException {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    private static boolean exported(ModuleDescriptor d, String pkg) {
        return d.exports().stream().anyMatch(e -> e.source().equals(pkg));
    }

    /**
     * The engine's compiled {@code module-info.class}, read from where {@link MemorySystem} was
     * loaded (tests run on the class path, where the class's module is unnamed): a directory of
     * classes or a jar.
     */
    private static ModuleDescriptor engineDescriptor() throws IOException, URISyntaxException {
        Path where = codeSource(MemorySystem.class);
        if (Files.isDirectory(where)) {
            try (InputStream in = Files.newInputStream(where.resolve("module-info.class"))) {
                return ModuleDescriptor.read(in);
            }
        }
        try (FileSystem jar = FileSystems.newFileSystem(URI.create("jar:" + where.toUri()), Map.of());
             InputStream in = Files.newInputStream(jar.getPath("module-info.class"))) {
            return ModuleDescriptor.read(in);
        }
    }
}
