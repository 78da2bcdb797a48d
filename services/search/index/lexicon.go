package index

import (
	"strings"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
)

// Plurals that suffix stripping cannot reach: Arabic broken plurals (كتب is the plural of كتاب,
// مآذن of مئذنة) and English irregular forms (children, wolves, women). The language analysis
// maps each to its singular before stemming, in every engine: the in-memory index in its token
// filters (languageFilters), OpenSearch in a stemmer_override filter of its analyzers, PostgreSQL
// by receiving the singular in place of the plural (see languageText). The lists hold common
// words of programme titles and summaries, not the whole language: a broken plural missing here
// still matches only itself. A plural that is also a frequent other word is left out (أسود is
// lions and black; علماء would become عالم, which is also world; أشهر is also most famous, فرق
// difference, حبوب would become حب, love).

// arabicBrokenPlurals pairs a broken plural with its singular, as written.
var arabicBrokenPlurals = [][2]string{
	{"أطفال", "طفل"}, {"كتب", "كتاب"}, {"قصور", "قصر"}, {"مدن", "مدينة"}, {"مآذن", "مئذنة"},
	{"قباب", "قبة"}, {"مساجد", "مسجد"}, {"أسواق", "سوق"}, {"بيوت", "بيت"}, {"نجوم", "نجم"},
	{"جبال", "جبل"}, {"أشجار", "شجرة"}, {"أسماك", "سمكة"}, {"شعراء", "شاعر"}, {"قصائد", "قصيدة"},
	{"رواد", "رائد"}, {"أنهار", "نهر"}, {"مفاتيح", "مفتاح"}, {"قوافل", "قافلة"}, {"أوتار", "وتر"},
	{"جزر", "جزيرة"}, {"أفلام", "فيلم"}, {"مزارع", "مزرعة"}, {"تمور", "تمر"}, {"صحارى", "صحراء"},
	{"كواكب", "كوكب"}, {"أطباء", "طبيب"}, {"دول", "دولة"}, {"بحار", "بحر"}, {"أيام", "يوم"},
	{"شهور", "شهر"}, {"سنوات", "سنة"}, {"رجال", "رجل"}, {"نساء", "امرأة"},
	{"أولاد", "ولد"}, {"بنات", "بنت"}, {"إخوة", "أخ"}, {"أصدقاء", "صديق"}, {"ملوك", "ملك"},
	{"أمراء", "أمير"}, {"وزراء", "وزير"}, {"شيوخ", "شيخ"}, {"قبائل", "قبيلة"}, {"شعوب", "شعب"},
	{"جيوش", "جيش"}, {"حروب", "حرب"}, {"معارك", "معركة"}, {"مدارس", "مدرسة"}, {"جامعات", "جامعة"},
	{"طلاب", "طالب"}, {"تلاميذ", "تلميذ"}, {"دروس", "درس"}, {"علوم", "علم"}, {"فنون", "فن"},
	{"آلات", "آلة"}, {"أغاني", "أغنية"}, {"ألحان", "لحن"}, {"قصص", "قصة"}, {"حكايات", "حكاية"},
	{"روايات", "رواية"}, {"مسارح", "مسرح"}, {"متاحف", "متحف"}, {"معارض", "معرض"}, {"مهرجانات", "مهرجان"},
	{"أسرار", "سر"}, {"أحلام", "حلم"}, {"أرواح", "روح"}, {"قلوب", "قلب"}, {"عيون", "عين"},
	{"وجوه", "وجه"}, {"أيادي", "يد"}, {"أقدام", "قدم"}, {"رؤوس", "رأس"}, {"أسنان", "سن"},
	{"أمراض", "مرض"}, {"أدوية", "دواء"}, {"مستشفيات", "مستشفى"}, {"أسعار", "سعر"}, {"أسهم", "سهم"},
	{"شركات", "شركة"}, {"بنوك", "بنك"}, {"مصارف", "مصرف"}, {"أموال", "مال"}, {"عملات", "عملة"},
	{"موانئ", "ميناء"}, {"سفن", "سفينة"}, {"شوارع", "شارع"}, {"جسور", "جسر"},
	{"بلدان", "بلد"}, {"حدائق", "حديقة"}, {"غابات", "غابة"},
	{"أنواع", "نوع"}, {"ألوان", "لون"}, {"أشكال", "شكل"}, {"أصوات", "صوت"}, {"كلمات", "كلمة"},
	{"حروف", "حرف"}, {"أسماء", "اسم"}, {"صور", "صورة"}, {"رسائل", "رسالة"}, {"أخبار", "خبر"},
	{"أسئلة", "سؤال"}, {"أجوبة", "جواب"}, {"أفكار", "فكرة"}, {"تجارب", "تجربة"}, {"مشاريع", "مشروع"},
	{"أبطال", "بطل"}, {"لاعبون", "لاعب"}, {"ملاعب", "ملعب"}, {"أندية", "ناد"},
	{"مدربون", "مدرب"}, {"حراس", "حارس"}, {"بطولات", "بطولة"}, {"سباقات", "سباق"}, {"خيول", "حصان"},
	{"طيور", "طائر"}, {"حيوانات", "حيوان"}, {"أسود", ""}, {"ذئاب", "ذئب"}, {"جمال", ""},
	{"سلاحف", "سلحفاة"}, {"أرانب", "أرنب"}, {"فئران", "فأر"}, {"قطط", "قطة"}, {"كلاب", "كلب"},
	{"زهور", "زهرة"}, {"ورود", "وردة"}, {"ثمار", "ثمرة"},
	{"أطباق", "طبق"}, {"وجبات", "وجبة"}, {"حلويات", "حلوى"}, {"توابل", "تابل"}, {"بهارات", "بهار"},
	{"ثقوب", "ثقب"}, {"مجرات", "مجرة"}, {"أقمار", "قمر"}, {"شموس", "شمس"},
	{"رياح", "ريح"}, {"أمطار", "مطر"}, {"أنهر", "نهر"}, {"بحيرات", "بحيرة"}, {"شواطئ", "شاطئ"},
	{"مخرجون", "مخرج"}, {"ممثلون", "ممثل"}, {"فلاحون", "فلاح"}, {"صيادون", "صياد"}, {"مهاجرون", "مهاجر"},
}

// englishIrregulars pairs an irregular English form with its base form.
var englishIrregulars = [][2]string{
	{"children", "child"}, {"childrens", "child"}, {"women", "woman"}, {"womens", "woman"},
	{"men", "man"}, {"mens", "man"}, {"people", "person"}, {"wolves", "wolf"}, {"knives", "knife"},
	{"wives", "wife"}, {"halves", "half"}, {"shelves", "shelf"}, {"thieves", "thief"},
	{"loaves", "loaf"}, {"calves", "calf"}, {"mice", "mouse"}, {"geese", "goose"}, {"teeth", "tooth"},
	{"feet", "foot"}, {"oxen", "ox"}, {"ran", "run"}, {"ate", "eat"}, {"eaten", "eat"},
	{"sang", "sing"}, {"sung", "sing"}, {"swam", "swim"}, {"wrote", "write"}, {"written", "write"},
	{"took", "take"}, {"taken", "take"}, {"began", "begin"}, {"begun", "begin"}, {"flew", "fly"},
	{"flown", "fly"}, {"drove", "drive"}, {"driven", "drive"}, {"rode", "ride"}, {"ridden", "ride"},
	{"grew", "grow"}, {"grown", "grow"}, {"knew", "know"}, {"known", "know"}, {"threw", "throw"},
	{"thrown", "throw"}, {"caught", "catch"}, {"taught", "teach"}, {"brought", "bring"},
	{"bought", "buy"}, {"thought", "think"}, {"fought", "fight"}, {"built", "build"}, {"sold", "sell"},
	{"told", "tell"}, {"made", "make"}, {"gave", "give"}, {"given", "give"}, {"won", "win"},
	{"lost", "lose"}, {"froze", "freeze"}, {"frozen", "freeze"}, {"spoke", "speak"},
	{"spoken", "speak"}, {"stole", "steal"}, {"stolen", "steal"}, {"chose", "choose"},
	{"chosen", "choose"}, {"broke", "break"}, {"broken", "break"}, {"slept", "sleep"},
	{"kept", "keep"}, {"met", "meet"}, {"fed", "feed"}, {"led", "lead"}, {"held", "hold"},
}

// arabicSingulars maps the stem (stemArabic) of a normalised broken plural to its normalised
// singular, englishSingulars a normalised irregular form to its base form.
var arabicSingulars, englishSingulars = buildLexicon()

func buildLexicon() (map[string]string, map[string]string) {
	one := func(s string) string {
		w := normalizeWords(nil, s)
		if len(w) != 1 {
			panic("index: lexicon entry " + s + " is not one word")
		}
		return w[0]
	}
	ar := make(map[string]string, len(arabicBrokenPlurals))
	for _, p := range arabicBrokenPlurals {
		if p[1] == "" { // listed to say it is left out on purpose
			continue
		}
		ar[string(stemArabic([]rune(one(p[0]))))] = one(p[1])
	}
	en := make(map[string]string, len(englishIrregulars))
	for _, p := range englishIrregulars {
		en[one(p[0])] = one(p[1])
	}
	return ar, en
}

// arabicStem returns the light stem of the normalised Arabic word w, through its singular when w
// is a broken plural of the lexicon.
func arabicStem(w string) string {
	s := string(stemArabic([]rune(w)))
	if sing, ok := arabicSingulars[s]; ok {
		return string(stemArabic([]rune(sing)))
	}
	return s
}

// englishSingularFilter is the bleve token filter that replaces an irregular English form by
// its base form, before stemming.
type englishSingularFilter struct{}

// Filter implements analysis.TokenFilter.
func (englishSingularFilter) Filter(input analysis.TokenStream) analysis.TokenStream {
	for _, t := range input {
		if base, ok := englishSingulars[string(t.Term)]; ok {
			t.Term = []byte(base)
		}
	}
	return input
}

// englishStem returns the Snowball English stem of w, as OpenSearch's porter2 stemmer makes it.
func englishStem(w string) string {
	stream := en.NewEnglishStemmerFilter().Filter(analysis.TokenStream{{Term: []byte(w)}})
	return string(stream[0].Term)
}

// lexiconRules returns the rules of the OpenSearch stemmer_override filter of group: for Arabic,
// the stem of each broken plural to the stem of its singular (the filter runs after the suffix
// filters); for English, each irregular form to the stem of its base form (the filter runs
// before the stemmer, which leaves what it mapped alone).
func lexiconRules(group string) []string {
	var rules []string
	switch group {
	case groupArabic:
		for plural, sing := range arabicSingulars {
			rules = append(rules, plural+" => "+string(stemArabic([]rune(sing))))
		}
	case groupEnglish:
		for form, base := range englishSingulars {
			rules = append(rules, form+" => "+englishStem(base))
		}
	}
	return rules
}

// languageText returns the normalised text s (words joined by single spaces) with each word
// replaced by languageWord: the text PostgreSQL's language configuration analyses.
func languageText(group, s string) string {
	if s == "" || (group != groupArabic && group != groupEnglish) {
		return s
	}
	words := strings.Split(s, " ")
	for i, w := range words {
		words[i] = languageWord(group, w)
	}
	return strings.Join(words, " ")
}

// languageWord returns what PostgreSQL's configuration of group receives for the normalised word
// w. For English, the base form of an irregular form of the lexicon, or w. For Arabic, the light
// stem that the other engines index (arabicStem: the suffixes of stemArabic removed, a broken
// plural of the lexicon made its singular's stem), or w for a stop word: PostgreSQL's Snowball
// stemmer then stems that stem, so two words that the light stemmer conflates (مكتبة and مكتبات,
// مهندسين and مهندسات, which Snowball alone keeps apart) always meet, as they do in the other
// engines.
func languageWord(group, w string) string {
	switch group {
	case groupArabic:
		if terms := languageTerms(groupArabic, w); len(terms) == 1 {
			return terms[0]
		}
	case groupEnglish:
		base := w
		for _, s := range []string{"'s", "’s", "＇s"} {
			base = strings.TrimSuffix(base, s)
		}
		if sing, ok := englishSingulars[base]; ok {
			return sing
		}
	}
	return w
}
