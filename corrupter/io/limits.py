"""Every bound the readers put on input: adversarial shards and patterns cost little (README,
"Refused and quarantined input"). Configurable ones are defaults of config fields."""

DEFAULT_MAX_MEMBER_BYTES = 64 * 1024**2  # input.max_member_bytes: a member declaring more is never read
DEFAULT_NUM_CLASSES = 1000  # input.num_classes: labels are 0..num_classes-1
MAX_SHARDS = 100_000  # input shards one config may name, brace patterns counted before expansion
MAX_MEMBERS_PER_SAMPLE = 256
MAX_JSON_BYTES = 1024**2  # a json member is parsed into Python objects: several times its size
MAX_HEADER_BYTES = 1024**2  # a pax header or a GNU long name: kilobytes in practice
