"""Read-only queries: what views, the fan-out and the channels read. Nothing here writes or enqueues."""
