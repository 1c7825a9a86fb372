"""Built-in plugins, one package each, registered by name from
``core.plugins.registry.BUILTIN_PLUGINS`` (none yet: matching, alerts, activity and channel
integrations come as the next built-in plugins). A built-in plugin imports ``plugins.api`` and
nothing else of the service, like any other (an import contract checks it)."""
