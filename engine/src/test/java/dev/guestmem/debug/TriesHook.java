package dev.guestmem.debug;

import net.jqwik.api.lifecycle.AroundPropertyHook;
import net.jqwik.api.lifecycle.PropertyExecutionResult;
import net.jqwik.api.lifecycle.PropertyExecutor;
import net.jqwik.api.lifecycle.PropertyLifecycleContext;

/** Sets a property's tries from {@code guestmem.property.tries} (default 1000). */
public final class TriesHook implements AroundPropertyHook {
    /** Creates the hook (jqwik instantiates it). */
    public TriesHook() {
    }

    @Override
    public PropertyExecutionResult aroundProperty(PropertyLifecycleContext context, PropertyExecutor property) {
        context.attributes().setTries(Integer.getInteger("guestmem.property.tries", 1000));
        return property.execute();
    }
}
