"""One controller module per resource; `api.app` wires them."""
