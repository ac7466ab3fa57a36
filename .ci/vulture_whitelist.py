# Names vulture (bin/run-tests) reports as unused that are used, by a framework or by people.
# Vulture only reads names here: `_.name` marks an attribute or method, a bare name a variable.
# Add a name only with the reason it is a false positive; dead code is deleted instead.
# ruff: noqa
_ = object()

# Pydantic reads these: model configuration and field validators (called by name at validation).
model_config
_._known_zone
_._http_root
_._database_url
_._emergency_number
_._listen_or_off
_._telegram_secret

# SQLAlchemy's TypeDecorator and DBAPI hooks, and the metadata's constraint names for migrations.
impl
cache_ok
_.process_bind_param
_.process_result_value
_.naming_convention
_.isolation_level

# Columns the coach writes for the record: read back by /mydata export, by operators' SQL and by
# the clinician's review, not by the code that writes them.
updated_at
age_band
seen_clinician_at
sent_at
sent_message_id
last_error
read_at

# Called by their frameworks: prometheus_client collectors, tornado handlers, Python's hook.
_.collect
_.post
_.unraisablehook

# Counters of a dispatch report and the health state, kept for logs, metrics and /healthz detail.
followups_retried
followups_failed
database_reachable
duplicate
