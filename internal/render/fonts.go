package render

// The glyph tables come from the committed BDF sources in fonts/ (their
// licence is there too); TestFontsGenUpToDate checks the generated file.
//go:generate go run fontgen/main.go -o fonts_gen.go fonts/5x8.bdf.gz font5x8 fonts/7x13.bdf.gz font7x13 fonts/7x13B.bdf.gz font7x13B
