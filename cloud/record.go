package cloud

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"unicode"
)

// RecordID derives a record's ID from the hex SHA-256 of the photo's bytes.
// Half of the digest (128 bits) is plenty to tell photos apart and keeps the
// ID short enough to type.
func RecordID(sha256Hex string) string {
	if len(sha256Hex) > 32 {
		return sha256Hex[:32]
	}
	return sha256Hex
}

// SHA256Hex is the hex SHA-256 digest of b.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// NormalizeLabel brings a label name to the one form every labeller and every
// search uses: lower case, surrounding space trimmed, inner runs of space,
// '_' or '-' folded to a single space. "Coffee_Cup " and "coffee cup" are the
// same label.
func NormalizeLabel(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsSpace(r) || r == '_' || r == '-' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// MergeLabels normalises names, drops labels scoring below minScore, keeps the
// best-scoring entry per name (a detector may see three cups; the record says
// "cup" once, with the box of the surest one) and sorts best first.
func MergeLabels(in []Label, minScore float32) []Label {
	best := map[string]int{}
	out := make([]Label, 0, len(in))
	for _, l := range in {
		l.Name = NormalizeLabel(l.Name)
		if l.Name == "" || l.Score < minScore {
			continue
		}
		if i, ok := best[l.Name]; ok {
			if l.Score > out[i].Score {
				out[i] = l
			}
			continue
		}
		best[l.Name] = len(out)
		out = append(out, l)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}
