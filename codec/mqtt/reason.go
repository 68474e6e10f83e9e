package mqtt

// ReasonCode is an MQTT 5.0 reason code (spec 2.4). A code < 0x80 reports
// success, >= 0x80 failure. The same code has different names in different
// packets (0x00 is Success, Normal disconnection or Granted QoS 0); Name
// gives the first.
type ReasonCode byte

// MQTT 5.0 reason codes, spec table 2-6. Values are frozen by the spec.
const (
	ReasonSuccess                     ReasonCode = 0x00 // also Normal disconnection, Granted QoS 0
	ReasonGrantedQoS1                 ReasonCode = 0x01
	ReasonGrantedQoS2                 ReasonCode = 0x02
	ReasonDisconnectWithWill          ReasonCode = 0x04
	ReasonNoMatchingSubscribers       ReasonCode = 0x10
	ReasonNoSubscriptionExisted       ReasonCode = 0x11
	ReasonContinueAuthentication      ReasonCode = 0x18
	ReasonReAuthenticate              ReasonCode = 0x19
	ReasonUnspecifiedError            ReasonCode = 0x80
	ReasonMalformedPacket             ReasonCode = 0x81
	ReasonProtocolError               ReasonCode = 0x82
	ReasonImplementationSpecificError ReasonCode = 0x83
	ReasonUnsupportedProtocolVersion  ReasonCode = 0x84
	ReasonClientIdentifierNotValid    ReasonCode = 0x85
	ReasonBadUserNameOrPassword       ReasonCode = 0x86
	ReasonNotAuthorized               ReasonCode = 0x87
	ReasonServerUnavailable           ReasonCode = 0x88
	ReasonServerBusy                  ReasonCode = 0x89
	ReasonBanned                      ReasonCode = 0x8A
	ReasonServerShuttingDown          ReasonCode = 0x8B
	ReasonBadAuthenticationMethod     ReasonCode = 0x8C
	ReasonKeepAliveTimeout            ReasonCode = 0x8D
	ReasonSessionTakenOver            ReasonCode = 0x8E
	ReasonTopicFilterInvalid          ReasonCode = 0x8F
	ReasonTopicNameInvalid            ReasonCode = 0x90
	ReasonPacketIdentifierInUse       ReasonCode = 0x91
	ReasonPacketIdentifierNotFound    ReasonCode = 0x92
	ReasonReceiveMaximumExceeded      ReasonCode = 0x93
	ReasonTopicAliasInvalid           ReasonCode = 0x94
	ReasonPacketTooLarge              ReasonCode = 0x95
	ReasonMessageRateTooHigh          ReasonCode = 0x96
	ReasonQuotaExceeded               ReasonCode = 0x97
	ReasonAdministrativeAction        ReasonCode = 0x98
	ReasonPayloadFormatInvalid        ReasonCode = 0x99
	ReasonRetainNotSupported          ReasonCode = 0x9A
	ReasonQoSNotSupported             ReasonCode = 0x9B
	ReasonUseAnotherServer            ReasonCode = 0x9C
	ReasonServerMoved                 ReasonCode = 0x9D
	ReasonSharedSubsNotSupported      ReasonCode = 0x9E
	ReasonConnectionRateExceeded      ReasonCode = 0x9F
	ReasonMaximumConnectTime          ReasonCode = 0xA0
	ReasonSubIDsNotSupported          ReasonCode = 0xA1
	ReasonWildcardSubsNotSupported    ReasonCode = 0xA2
)

// Packet masks for the tables: bit t is packet type t. Bit 0 (type 0 is
// reserved) stands for the Will Properties of a CONNECT.
const (
	mConnect     = 1 << CONNECT
	mConnack     = 1 << CONNACK
	mPublish     = 1 << PUBLISH
	mPuback      = 1 << PUBACK
	mPubrec      = 1 << PUBREC
	mPubrel      = 1 << PUBREL
	mPubcomp     = 1 << PUBCOMP
	mSubscribe   = 1 << SUBSCRIBE
	mSuback      = 1 << SUBACK
	mUnsubscribe = 1 << UNSUBSCRIBE
	mUnsuback    = 1 << UNSUBACK
	mDisconnect  = 1 << DISCONNECT
	mAuth        = 1 << AUTH
	mWill        = 1 << 0

	mAcks = mPuback | mPubrec | mPubrel | mPubcomp
	// mFail is where the generic failure codes (0x80, 0x83, 0x87...) go.
	mFail = mConnack | mPuback | mPubrec | mSuback | mUnsuback | mDisconnect
)

type reasonInfo struct {
	name    string // "" = not a reason code
	packets uint16 // packet mask where the code may appear
}

// reasons is the one table of MQTT 5.0 reason codes (spec 2.4, table 2-6):
// the name and the packets each may appear in.
var reasons = [256]reasonInfo{
	0x00: {"Success", mConnack | mAcks | mSuback | mUnsuback | mDisconnect | mAuth},
	0x01: {"Granted QoS 1", mSuback},
	0x02: {"Granted QoS 2", mSuback},
	0x04: {"Disconnect with Will Message", mDisconnect},
	0x10: {"No matching subscribers", mPuback | mPubrec},
	0x11: {"No subscription existed", mUnsuback},
	0x18: {"Continue authentication", mAuth},
	0x19: {"Re-authenticate", mAuth},
	0x80: {"Unspecified error", mFail},
	0x81: {"Malformed Packet", mConnack | mDisconnect},
	0x82: {"Protocol Error", mConnack | mDisconnect},
	0x83: {"Implementation specific error", mFail},
	0x84: {"Unsupported Protocol Version", mConnack},
	0x85: {"Client Identifier not valid", mConnack},
	0x86: {"Bad User Name or Password", mConnack},
	0x87: {"Not authorized", mFail},
	0x88: {"Server unavailable", mConnack},
	0x89: {"Server busy", mConnack | mDisconnect},
	0x8A: {"Banned", mConnack},
	0x8B: {"Server shutting down", mDisconnect},
	0x8C: {"Bad authentication method", mConnack | mDisconnect},
	0x8D: {"Keep Alive timeout", mDisconnect},
	0x8E: {"Session taken over", mDisconnect},
	0x8F: {"Topic Filter invalid", mSuback | mUnsuback | mDisconnect},
	0x90: {"Topic Name invalid", mConnack | mPuback | mPubrec | mDisconnect},
	0x91: {"Packet Identifier in use", mPuback | mPubrec | mSuback | mUnsuback},
	0x92: {"Packet Identifier not found", mPubrel | mPubcomp},
	0x93: {"Receive Maximum exceeded", mDisconnect},
	0x94: {"Topic Alias invalid", mDisconnect},
	0x95: {"Packet too large", mConnack | mDisconnect},
	0x96: {"Message rate too high", mDisconnect},
	0x97: {"Quota exceeded", mConnack | mPuback | mPubrec | mSuback | mDisconnect},
	0x98: {"Administrative action", mDisconnect},
	0x99: {"Payload format invalid", mConnack | mPuback | mPubrec | mDisconnect},
	0x9A: {"Retain not supported", mConnack | mDisconnect},
	0x9B: {"QoS not supported", mConnack | mDisconnect},
	0x9C: {"Use another server", mConnack | mDisconnect},
	0x9D: {"Server moved", mConnack | mDisconnect},
	0x9E: {"Shared Subscriptions not supported", mSuback | mDisconnect},
	0x9F: {"Connection rate exceeded", mConnack | mDisconnect},
	0xA0: {"Maximum connect time", mDisconnect},
	0xA1: {"Subscription Identifiers not supported", mSuback | mDisconnect},
	0xA2: {"Wildcard Subscriptions not supported", mSuback | mDisconnect},
}

// Name is the spec's name of the code ("Protocol Error"), or "" for a byte
// that is no reason code.
func (c ReasonCode) Name() string { return reasons[c].name }

// IsError reports whether the code reports a failure (spec 2.4: >= 0x80).
func (c ReasonCode) IsError() bool { return c >= 0x80 }

// ValidFor reports whether the code may be sent in a packet of type t.
func (c ReasonCode) ValidFor(t Type) bool {
	return t < 16 && reasons[c].packets&(1<<t) != 0
}

// MQTT 3.1 / 3.1.1 CONNACK return codes (3.1.1 spec table 3.1). The codec
// only produces ConnackUnacceptableVersion and ConnackIdentifierRejected;
// the others are for the server.
const (
	ConnackAccepted              byte = 0x00
	ConnackUnacceptableVersion   byte = 0x01
	ConnackIdentifierRejected    byte = 0x02
	ConnackServerUnavailable     byte = 0x03
	ConnackBadUserNameOrPassword byte = 0x04
	ConnackNotAuthorized         byte = 0x05
)

// SubackFailure is the 3.1.1 SUBACK return code for a refused filter.
const SubackFailure byte = 0x80
