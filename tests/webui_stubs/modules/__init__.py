"""Stand-in for the web-ui's `modules` package (see ../README.md)."""
