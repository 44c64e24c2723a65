package dev.guestmem.flat;

import net.jqwik.api.lifecycle.AroundPropertyHook;
import net.jqwik.api.lifecycle.PropertyExecutionResult;
import net.jqwik.api.lifecycle.PropertyExecutor;
import net.jqwik.api.lifecycle.PropertyLifecycleContext;

/** Sets a property's tries from the {@code guestmem.property.tries} system property (default 1000). */
public final class TriesFromSystemProperty implements AroundPropertyHook {
    /** Creates the hook (jqwik instantiates it). */
    public TriesFromSystemProperty() {
    }

    @Override
    public PropertyExecutionResult aroundProperty(PropertyLifecycleContext context, PropertyExecutor property) {
        context.attributes().setTries(Integer.getInteger("guestmem.property.tries", 1000));
        return property.execute();
    }
}
