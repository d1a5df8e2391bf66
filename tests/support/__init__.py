"""What the tests share, so no test module imports another: the emulator driven by raw HTTP (`server`) or by the
real client (`emulator`), waiting on what a server says (`waiting`), CLI and emulator subprocesses (`processes`), the
corpus's people and the manifests built from them (`people`)."""
