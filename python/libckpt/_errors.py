"""The exception every libckpt error raises."""


class CkptError(Exception):
    """A libckpt failure: ``status`` is the C API's code (negative),
    ``status_name`` its name, ``str(e)`` the library's message (naming the
    call, file, rank and region)."""

    def __init__(self, status, status_name, message):
        super().__init__(message)
        self.status = status
        self.status_name = status_name
