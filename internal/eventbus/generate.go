package eventbus

// The topic names come from the event specs (each schema's "mediamesh.topic"): topics.gen.go.
//go:generate go run ../../tools/eventgen -topics -pkg eventbus -o topics.gen.go ../../specs/avro
