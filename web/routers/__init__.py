"""One router per page family; each route declares its roles with `guard()`."""
