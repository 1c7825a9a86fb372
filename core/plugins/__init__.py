"""The plugin framework: loading and checking plugins (``registry``, ``startup``), the one way to
call them (``gateway``, over ``host`` and ``calls``), what a call receives (``context``), the event
outbox, the purge protocol, and the plugins' storage (``store``). Plugins import ``plugins.api``."""
