"""The REST handlers, one module per kind of request: read (GET/HEAD), write (POST/PUT/PATCH/DELETE), rpc."""
