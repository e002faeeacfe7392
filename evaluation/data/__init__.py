"""The data layer: the programme's published figures (``programme``), the data contract
every input must meet (``contract``: validated, typed and hashed), and the synthetic
default data calibrated to the programme (``synthetic``)."""
