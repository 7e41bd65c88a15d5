package nl80211

// Values from the kernel's include/uapi/linux/nl80211.h. They are ABI and
// never change; the test compares them with golang.org/x/sys/unix.

// Commands.
const (
	CmdGetWiphy        = 1
	CmdGetInterface    = 5
	CmdSetInterface    = 6
	CmdNewInterface    = 7
	CmdDelInterface    = 8
	CmdStartAP         = 15
	CmdStopAP          = 16
	CmdGetStation      = 17
	CmdSetStation      = 18
	CmdNewStation      = 19
	CmdDelStation      = 20
	CmdSetBSS          = 25
	CmdReqSetReg       = 27
	CmdRegisterFrame   = 58
	CmdFrame           = 59
	CmdFrameTxStatus   = 60
	CmdUnexpectedFrame = 83
)

// Attributes.
const (
	AttrWiphy             = 1
	AttrWiphyName         = 2
	AttrIfindex           = 3
	AttrIfname            = 4
	AttrIftype            = 5
	AttrMAC               = 6
	AttrBeaconInterval    = 12
	AttrDTIMPeriod        = 13
	AttrBeaconHead        = 14
	AttrBeaconTail        = 15
	AttrStaAID            = 16
	AttrStaListenInterval = 18
	AttrStaSupportedRates = 19
	AttrStaInfo           = 21
	AttrWiphyBands        = 22
	AttrSupportedIftypes  = 32
	AttrRegAlpha2         = 33
	AttrWiphyFreq         = 38
	AttrIE                = 42
	AttrFrame             = 51
	AttrSSID              = 52
	AttrAuthType          = 53
	AttrReasonCode        = 54
	AttrStaFlags2         = 67
	AttrPrivacy           = 70
	AttrCookie            = 88
	AttrFrameMatch        = 91
	AttrAck               = 92
	AttrAPIsolate         = 96
	AttrFrameType         = 101
	AttrHiddenSSID        = 126
	AttrIEProbeResp       = 127
	AttrIEAssocResp       = 128
	AttrDeviceAPSME       = 141
	AttrDontWaitForAck    = 142
	AttrFeatureFlags      = 143
	AttrRxSignalDBM       = 151
	AttrUserRegHintType   = 154
	AttrChannelWidth      = 159
	AttrCenterFreq1       = 160
	AttrSplitWiphyDump    = 174
	AttrMaxAPAssocSta     = 202
	AttrSocketOwner       = 204
	AttrExtFeatures       = 217
)

// Interface types.
const (
	IftypeStation = 2
	IftypeAP      = 3
	IftypeMonitor = 6
)

// Station flags (bit numbers in nl80211_sta_flag_update).
const (
	StaFlagAuthorized    = 1
	StaFlagShortPreamble = 2
	StaFlagWME           = 3
	StaFlagMFP           = 4
	StaFlagAuthenticated = 5
	StaFlagAssociated    = 7
)

// Station info (nested in AttrStaInfo).
const (
	StaInfoInactiveTime  = 1
	StaInfoRxBytes       = 2
	StaInfoTxBytes       = 3
	StaInfoSignal        = 7
	StaInfoSignalAvg     = 13
	StaInfoConnectedTime = 16
	StaInfoStaFlags      = 17
)

// Band and frequency attributes (nested in AttrWiphyBands).
const (
	BandAttrFreqs         = 1
	FrequencyAttrFreq     = 1
	FrequencyAttrDisabled = 2
	FrequencyAttrNoIR     = 3
	FrequencyAttrRadar    = 5
	FrequencyAttrMaxPower = 6
)

// Other enums.
const (
	ChanWidth20NoHT        = 0
	AuthTypeOpenSystem     = 0
	HiddenSSIDNotInUse     = 0
	HiddenSSIDZeroLen      = 1
	UserRegHintUser        = 0
	FeatureInactivityTimer = 1 << 2

	ExtFeatureControlPortOverNL80211 = 26
	ExtFeature4WayHandshakeAPPSK     = 50

	MulticastGroupMLME = "mlme"
)
