package kafka

import "strconv"

// ErrorCode is a Kafka protocol error code (int16 on the wire).
type ErrorCode int16

// ErrorInfo describes one error code: its protocol name, whether a client
// retries it, and a one-line message.
type ErrorInfo struct {
	Code      ErrorCode
	Name      string
	Retriable bool
	Message   string
}

// Error codes this broker sends. The table below is the single source of
// their names, retriability and messages.
const (
	UnknownServerError           ErrorCode = -1
	None                         ErrorCode = 0
	OffsetOutOfRange             ErrorCode = 1
	CorruptMessage               ErrorCode = 2
	UnknownTopicOrPartition      ErrorCode = 3
	InvalidFetchSize             ErrorCode = 4
	LeaderNotAvailable           ErrorCode = 5
	NotLeaderOrFollower          ErrorCode = 6
	RequestTimedOut              ErrorCode = 7
	BrokerNotAvailable           ErrorCode = 8
	ReplicaNotAvailable          ErrorCode = 9
	MessageTooLarge              ErrorCode = 10
	OffsetMetadataTooLarge       ErrorCode = 12
	NetworkException             ErrorCode = 13
	CoordinatorLoadInProgress    ErrorCode = 14
	CoordinatorNotAvailable      ErrorCode = 15
	NotCoordinator               ErrorCode = 16
	InvalidTopic                 ErrorCode = 17
	RecordListTooLarge           ErrorCode = 18
	NotEnoughReplicas            ErrorCode = 19
	NotEnoughReplicasAfterAppend ErrorCode = 20
	InvalidRequiredAcks          ErrorCode = 21
	IllegalGeneration            ErrorCode = 22
	InconsistentGroupProtocol    ErrorCode = 23
	InvalidGroupID               ErrorCode = 24
	UnknownMemberID              ErrorCode = 25
	InvalidSessionTimeout        ErrorCode = 26
	RebalanceInProgress          ErrorCode = 27
	InvalidCommitOffsetSize      ErrorCode = 28
	TopicAuthorizationFailed     ErrorCode = 29
	GroupAuthorizationFailed     ErrorCode = 30
	ClusterAuthorizationFailed   ErrorCode = 31
	InvalidTimestamp             ErrorCode = 32
	UnsupportedSaslMechanism     ErrorCode = 33
	IllegalSaslState             ErrorCode = 34
	UnsupportedVersion           ErrorCode = 35
	TopicAlreadyExists           ErrorCode = 36
	InvalidPartitions            ErrorCode = 37
	InvalidReplicationFactor     ErrorCode = 38
	InvalidReplicaAssignment     ErrorCode = 39
	InvalidConfig                ErrorCode = 40
	NotController                ErrorCode = 41
	InvalidRequest               ErrorCode = 42
	UnsupportedForMessageFormat  ErrorCode = 43
	PolicyViolation              ErrorCode = 44
	OutOfOrderSequenceNumber     ErrorCode = 45
	DuplicateSequenceNumber      ErrorCode = 46
	InvalidProducerEpoch         ErrorCode = 47
	InvalidTxnState              ErrorCode = 48
	InvalidProducerIDMapping     ErrorCode = 49
	InvalidTransactionTimeout    ErrorCode = 50
	ConcurrentTransactions       ErrorCode = 51
	KafkaStorageError            ErrorCode = 56
	SaslAuthenticationFailed     ErrorCode = 58
	UnknownProducerID            ErrorCode = 59
	NonEmptyGroup                ErrorCode = 68
	GroupIDNotFound              ErrorCode = 69
	FetchSessionIDNotFound       ErrorCode = 70
	InvalidFetchSessionEpoch     ErrorCode = 71
	TopicDeletionDisabled        ErrorCode = 73
	FencedLeaderEpoch            ErrorCode = 74
	UnknownLeaderEpoch           ErrorCode = 75
	UnsupportedCompressionType   ErrorCode = 76
	OffsetNotAvailable           ErrorCode = 78
	MemberIDRequired             ErrorCode = 79
	GroupMaxSizeReached          ErrorCode = 81
	FencedInstanceID             ErrorCode = 82
	GroupSubscribedToTopic       ErrorCode = 86
	InvalidRecord                ErrorCode = 87
	UnstableOffsetCommit         ErrorCode = 88
	ThrottlingQuotaExceeded      ErrorCode = 89
	ProducerFenced               ErrorCode = 90
	UnknownTopicID               ErrorCode = 100
)

var errorTable = [...]ErrorInfo{
	{UnknownServerError, "UNKNOWN_SERVER_ERROR", false, "the server hit an unexpected error"},
	{None, "NONE", false, "success"},
	{OffsetOutOfRange, "OFFSET_OUT_OF_RANGE", false, "the offset is outside the partition's range"},
	{CorruptMessage, "CORRUPT_MESSAGE", true, "a record batch failed its CRC or is malformed"},
	{UnknownTopicOrPartition, "UNKNOWN_TOPIC_OR_PARTITION", true, "this server does not host that topic-partition"},
	{InvalidFetchSize, "INVALID_FETCH_SIZE", false, "the fetch size is invalid"},
	{LeaderNotAvailable, "LEADER_NOT_AVAILABLE", true, "the partition has no leader right now"},
	{NotLeaderOrFollower, "NOT_LEADER_OR_FOLLOWER", true, "this server is not the partition's leader"},
	{RequestTimedOut, "REQUEST_TIMED_OUT", true, "the request timed out"},
	{BrokerNotAvailable, "BROKER_NOT_AVAILABLE", true, "the broker is not available"},
	{ReplicaNotAvailable, "REPLICA_NOT_AVAILABLE", true, "the replica is not available"},
	{MessageTooLarge, "MESSAGE_TOO_LARGE", false, "a batch is larger than the topic allows"},
	{OffsetMetadataTooLarge, "OFFSET_METADATA_TOO_LARGE", false, "the commit metadata is too large"},
	{NetworkException, "NETWORK_EXCEPTION", true, "the server disconnected before answering"},
	{CoordinatorLoadInProgress, "COORDINATOR_LOAD_IN_PROGRESS", true, "the coordinator is loading"},
	{CoordinatorNotAvailable, "COORDINATOR_NOT_AVAILABLE", true, "the coordinator is not available"},
	{NotCoordinator, "NOT_COORDINATOR", true, "this server is not the coordinator"},
	{InvalidTopic, "INVALID_TOPIC_EXCEPTION", false, "the topic name is invalid"},
	{RecordListTooLarge, "RECORD_LIST_TOO_LARGE", false, "the record set is larger than allowed"},
	{NotEnoughReplicas, "NOT_ENOUGH_REPLICAS", true, "fewer in-sync replicas than required"},
	{NotEnoughReplicasAfterAppend, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true, "written with fewer in-sync replicas than required"},
	{InvalidRequiredAcks, "INVALID_REQUIRED_ACKS", false, "acks must be -1, 0 or 1"},
	{IllegalGeneration, "ILLEGAL_GENERATION", false, "the group generation is not current"},
	{InconsistentGroupProtocol, "INCONSISTENT_GROUP_PROTOCOL", false, "the member's protocols do not match the group's"},
	{InvalidGroupID, "INVALID_GROUP_ID", false, "the group id is invalid"},
	{UnknownMemberID, "UNKNOWN_MEMBER_ID", false, "the coordinator does not know this member"},
	{InvalidSessionTimeout, "INVALID_SESSION_TIMEOUT", false, "the session timeout is out of range"},
	{RebalanceInProgress, "REBALANCE_IN_PROGRESS", false, "the group is rebalancing; rejoin"},
	{InvalidCommitOffsetSize, "INVALID_COMMIT_OFFSET_SIZE", false, "the offset commit is too large"},
	{TopicAuthorizationFailed, "TOPIC_AUTHORIZATION_FAILED", false, "not authorized for the topic"},
	{GroupAuthorizationFailed, "GROUP_AUTHORIZATION_FAILED", false, "not authorized for the group"},
	{ClusterAuthorizationFailed, "CLUSTER_AUTHORIZATION_FAILED", false, "not authorized for the cluster"},
	{InvalidTimestamp, "INVALID_TIMESTAMP", false, "a timestamp is out of range"},
	{UnsupportedSaslMechanism, "UNSUPPORTED_SASL_MECHANISM", false, "the SASL mechanism is not supported"},
	{IllegalSaslState, "ILLEGAL_SASL_STATE", false, "the request is not valid in this SASL state"},
	{UnsupportedVersion, "UNSUPPORTED_VERSION", false, "the API version is not supported"},
	{TopicAlreadyExists, "TOPIC_ALREADY_EXISTS", false, "the topic already exists"},
	{InvalidPartitions, "INVALID_PARTITIONS", false, "the partition count is invalid"},
	{InvalidReplicationFactor, "INVALID_REPLICATION_FACTOR", false, "the replication factor is invalid"},
	{InvalidReplicaAssignment, "INVALID_REPLICA_ASSIGNMENT", false, "the replica assignment is invalid"},
	{InvalidConfig, "INVALID_CONFIG", false, "the configuration is invalid"},
	{NotController, "NOT_CONTROLLER", true, "this server is not the controller"},
	{InvalidRequest, "INVALID_REQUEST", false, "the request is malformed or not valid here"},
	{UnsupportedForMessageFormat, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false, "the message format does not support this request"},
	{PolicyViolation, "POLICY_VIOLATION", false, "the request violates a policy"},
	{OutOfOrderSequenceNumber, "OUT_OF_ORDER_SEQUENCE_NUMBER", false, "the producer sequence number is out of order"},
	{DuplicateSequenceNumber, "DUPLICATE_SEQUENCE_NUMBER", false, "the producer sequence number is a duplicate"},
	{InvalidProducerEpoch, "INVALID_PRODUCER_EPOCH", false, "the producer epoch is stale"},
	{InvalidTxnState, "INVALID_TXN_STATE", false, "the transaction state does not allow this"},
	{InvalidProducerIDMapping, "INVALID_PRODUCER_ID_MAPPING", false, "the producer id does not match the transactional id"},
	{InvalidTransactionTimeout, "INVALID_TRANSACTION_TIMEOUT", false, "the transaction timeout is out of range"},
	{ConcurrentTransactions, "CONCURRENT_TRANSACTIONS", false, "another transaction operation is in progress"},
	{KafkaStorageError, "KAFKA_STORAGE_ERROR", true, "a storage error on the server"},
	{SaslAuthenticationFailed, "SASL_AUTHENTICATION_FAILED", false, "SASL authentication failed"},
	{UnknownProducerID, "UNKNOWN_PRODUCER_ID", false, "the producer id is not known"},
	{NonEmptyGroup, "NON_EMPTY_GROUP", false, "the group is not empty"},
	{GroupIDNotFound, "GROUP_ID_NOT_FOUND", false, "the group does not exist"},
	{FetchSessionIDNotFound, "FETCH_SESSION_ID_NOT_FOUND", true, "the fetch session was not found"},
	{InvalidFetchSessionEpoch, "INVALID_FETCH_SESSION_EPOCH", true, "the fetch session epoch is invalid"},
	{TopicDeletionDisabled, "TOPIC_DELETION_DISABLED", false, "topic deletion is disabled"},
	{FencedLeaderEpoch, "FENCED_LEADER_EPOCH", true, "the leader epoch is older than the server's"},
	{UnknownLeaderEpoch, "UNKNOWN_LEADER_EPOCH", true, "the leader epoch is newer than the server's"},
	{UnsupportedCompressionType, "UNSUPPORTED_COMPRESSION_TYPE", false, "the compression type is not supported"},
	{OffsetNotAvailable, "OFFSET_NOT_AVAILABLE", true, "the offset is not available yet"},
	{MemberIDRequired, "MEMBER_ID_REQUIRED", false, "join again with the member id given"},
	{GroupMaxSizeReached, "GROUP_MAX_SIZE_REACHED", false, "the group is full"},
	{FencedInstanceID, "FENCED_INSTANCE_ID", false, "another member uses this group instance id"},
	{GroupSubscribedToTopic, "GROUP_SUBSCRIBED_TO_TOPIC", false, "the group is still subscribed to the topic"},
	{InvalidRecord, "INVALID_RECORD", false, "a record failed validation"},
	{UnstableOffsetCommit, "UNSTABLE_OFFSET_COMMIT", true, "unstable offsets are pending"},
	{ThrottlingQuotaExceeded, "THROTTLING_QUOTA_EXCEEDED", true, "the throttling quota is exceeded"},
	{ProducerFenced, "PRODUCER_FENCED", false, "a newer producer with the same transactional id exists"},
	{UnknownTopicID, "UNKNOWN_TOPIC_ID", true, "this server does not host that topic id"},
}

// Info returns the table entry for c; codes outside the table get their
// number as name.
func (c ErrorCode) Info() ErrorInfo {
	for _, e := range errorTable {
		if e.Code == c {
			return e
		}
	}
	return ErrorInfo{Code: c, Name: "ERROR_" + strconv.Itoa(int(c)), Message: "unknown error code"}
}

func (c ErrorCode) String() string { return c.Info().Name }

// Retriable reports whether clients retry after c.
func (c ErrorCode) Retriable() bool { return c.Info().Retriable }

// Errors returns the whole table, ordered by code.
func Errors() []ErrorInfo { return append([]ErrorInfo(nil), errorTable[:]...) }
