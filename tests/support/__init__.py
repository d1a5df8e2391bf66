"""What the tests share, so no test module imports another: CLI and emulator subprocesses (`processes`), the
corpus's people and the manifests built from them (`people`)."""
