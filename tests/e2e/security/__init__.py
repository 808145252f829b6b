"""Live-server security tests: real uvicorn, real logs."""
