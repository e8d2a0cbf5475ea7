"""Cart resources for the signed-in user (or a guest by X-Cart-Token): the same services
and messages as the website."""
