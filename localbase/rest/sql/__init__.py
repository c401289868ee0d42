"""The SQL compiler: a parsed request plus the schema cache -> one parameterised statement (`plan`)."""
