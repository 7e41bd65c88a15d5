package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
)

// Frame types of the hub protocol.
const (
	typeID    = "id"
	typeJoin  = "join"
	typePeers = "peers"
	typeTo    = "to"
	typeFrom  = "from"
	typeEcho  = "echo"
)

// inFrame is a decoded client frame. Pointer fields tell "missing" from
// "zero"; json.Unmarshal fails on a wrong type (string or float id, numeric
// room), which drops the frame.
type inFrame struct {
	T       string          `json:"t"`
	ID      *int64          `json:"id"`
	Room    *string         `json:"room"`
	Payload json.RawMessage `json:"payload"`
	X       json.RawMessage `json:"x"`
}

// Reasons a client frame is dropped.
var (
	errNotObject   = errors.New("not a JSON object")
	errUnknownType = errors.New("unknown frame type")
	errBadField    = errors.New("missing or invalid field")
	errBadRoom     = errors.New("join refused")
)

// decodeFrame parses one client frame and checks the fields its type needs.
func decodeFrame(data []byte) (inFrame, error) {
	var f inFrame
	if id, payload, ok := fastTo(data); ok {
		f.T, f.ID, f.Payload = typeTo, &id, payload
		return f, nil
	}
	if len(data) == 0 || data[0] != '{' {
		// Leading whitespace is legal JSON but no client sends it; this
		// cheaply rejects arrays, strings, null and binary junk.
		return f, errNotObject
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return f, err
	}
	switch f.T {
	case typeJoin:
		if f.Room != nil {
			if err := galaxy.CheckRoom(*f.Room); err != nil {
				return f, fmt.Errorf("%w: %w", errBadRoom, err)
			}
		}
	case typePeers:
	case typeTo:
		if f.ID == nil || *f.ID <= 0 {
			return f, errBadField
		}
		if f.Payload == nil {
			f.Payload = json.RawMessage("null") // as the original hub does
		}
	case typeEcho:
		if f.X == nil {
			return f, errBadField
		}
	default:
		return f, errUnknownType
	}
	return f, nil
}

func idFrame(id int64) []byte {
	b := append(make([]byte, 0, 32), `{"t":"id","id":`...)
	b = strconv.AppendInt(b, id, 10)
	return append(b, '}')
}

func fromFrame(from int64, payload []byte) []byte {
	b := make([]byte, 0, len(payload)+48)
	b = append(b, `{"t":"from","id":`...)
	b = strconv.AppendInt(b, from, 10)
	b = append(b, `,"payload":`...)
	b = append(b, payload...)
	return append(b, '}')
}

// errorFrame tells the client why the hub refused its frame of type t
// (clients ignore frame types they do not know).
func errorFrame(t string, err error) []byte {
	b, _ := json.Marshal(struct {
		T     string `json:"t"`
		For   string `json:"for"`
		Error string `json:"error"`
	}{"error", t, err.Error()})
	return b
}

func echoFrame(x []byte) []byte {
	b := make([]byte, 0, len(x)+16)
	b = append(b, `{"t":"echo","x":`...)
	b = append(b, x...)
	return append(b, '}')
}

func peersFrame(ids []int64) []byte {
	b := make([]byte, 0, 24+len(ids)*14)
	b = append(b, `{"t":"peers","ids":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return append(b, "]}"...)
}

// byePayload is what the hub sends on behalf of a departed peer, in the
// in-room vocabulary the clients already understand.
var byePayload = []byte(`{"k":"bye"}`)

// fastTo recognises the exact shape browsers send for "to",
// {"t":"to","id":N,"payload":P}, without reflection: most frames through
// a hub are this one. Anything else (other key order, whitespace, large
// ids) takes the general path, which accepts the same frames
// (FuzzDecodeFrame checks that both agree).
func fastTo(data []byte) (int64, []byte, bool) {
	const prefix = `{"t":"to","id":`
	const mid = `,"payload":`
	if len(data) < len(prefix)+1+len(mid)+2 || string(data[:len(prefix)]) != prefix || data[len(data)-1] != '}' {
		return 0, nil, false
	}
	i := len(prefix)
	if data[i] < '1' || data[i] > '9' {
		return 0, nil, false
	}
	var id int64
	for ; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
		if i-len(prefix) >= 15 { // stays far below int64 overflow
			return 0, nil, false
		}
		id = id*10 + int64(data[i]-'0')
	}
	if len(data)-i < len(mid)+2 || string(data[i:i+len(mid)]) != mid {
		return 0, nil, false
	}
	payload := data[i+len(mid) : len(data)-1]
	if isJSONSpace(payload[0]) || isJSONSpace(payload[len(payload)-1]) || !json.Valid(payload) {
		return 0, nil, false
	}
	return id, payload, true
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
