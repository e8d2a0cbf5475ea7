"""Orders: list, detail, fulfilment, staff notes, cancellation, refunds, documents."""
