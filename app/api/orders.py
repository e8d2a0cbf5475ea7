"""Order resources: the signed-in user's orders, detail and cancellation."""
