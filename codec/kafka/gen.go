package kafka

//go:generate go run ./internal/gen messages.def generated.go
