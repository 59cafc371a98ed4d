"""The Python test suite of mallocsim (run with `make test`)."""
