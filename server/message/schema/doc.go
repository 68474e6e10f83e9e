// Package schema validates message payloads against schemas bound to
// topics: the hub's schema validation hook (message.Options.Check), shared
// by every protocol.
//
// A Schema is JSON Schema (any draft santhosh-tekuri/jsonschema supports;
// the payload must be JSON that validates) or Avro (hamba/avro; the
// payload must be exactly one binary-encoded value of the schema).
// Protobuf schemas are refused at Create for now. A Binding ties a schema
// to a resource: a topic name or an MQTT topic filter ("sensor/+/temp"),
// kept in a topic.Index of its own, so finding the schemas of a topic is
// one index match.
//
// Check: a topic no binding matches costs one index lookup and no
// allocation. Otherwise every bound schema runs; Strategy All needs all of
// them to pass, Any one. A failure is counted and, with OnFailure, refused
// (message.ErrRefused), refused with a disconnect
// (message.ErrRefusedDisconnect) or let through (Ignore).
//
// Concurrency: writers (Create, Delete, Bind, Unbind) serialise on one
// mutex and publish the validators as a new map (atomic pointer); Check
// takes no lock. A validator is immutable once compiled.
//
// Cost (go test -run '^$' -bench . -benchmem ./server/message/schema/):
// an unbound topic about 0.1 µs and 0 allocs; a small JSON document
// against a JSON Schema about 8 µs and 33 allocs (the library parses the
// payload into Go values).
//
// Metrics: robustmq_schema_checked_total (messages of bound topics),
// robustmq_schema_failed_total.
package schema
