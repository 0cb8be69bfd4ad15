// reproq-django's cross-language contract vector (contracts/spec_hash.json and .sha256, byte-
// identical in reproq-django and reproq-worker; django-contract §2.2). Any change to the spec
// builder or canonical JSON must keep reproducing it.
export const CONTRACT_SPEC_CANONICAL =
  '{"args":[1,{"nested":true}],"concurrency_key":"account:42","concurrency_limit":2,"exec":{"max_attempts":3,"timeout_seconds":900},"kwargs":{"amount":"12.34","notes":"hello","token":"123e4567-e89b-12d3-a456-426614174000"},"lock_key":"user:123","priority":5,"provenance":{"code_ref":"abc123","pip_lock_hash":"deadbeef"},"queue_name":"default","run_after":"2025-01-01T12:00:00+00:00","takes_context":false,"task_path":"contracts.example_task","v":1}';
export const CONTRACT_SPEC_HASH = "2d6721014757fa10799d528b6b15aee6c76a841b9ea74e187875f4abfcdbedd5";
