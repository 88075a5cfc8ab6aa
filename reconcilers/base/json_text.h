// JsonQuote: a string as a JSON string literal (quotes included), for the few renderers that
// write JSON by hand to stay free of cpprestsdk (lint SARIF). Control characters become \u00XX;
// bytes >= 0x80 pass through (the input is UTF-8, which JSON allows as is).
#pragma once

#include <string>
#include <string_view>

namespace su {

std::string JsonQuote(std::string_view s);

}  // namespace su
