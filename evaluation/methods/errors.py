"""The one error the methods raise for data that cannot support an estimate."""


class DesignError(ValueError):
    """The requested design cannot be built from these data (e.g. an empty group).

    Its message is the reason the report prints after "not estimable with these data"."""
