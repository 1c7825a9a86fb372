"""Built-in plugins (matching, activity, alerts, channels), one package each."""
