"""The version of the dataset the builder produces: bump it whenever the rows change."""

BUILDER_VERSION = "0.8.0"
