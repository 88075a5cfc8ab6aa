// "Did you mean X?" for misspelt field names: the closest known name by edit distance.
#pragma once

#include <string>
#include <vector>

namespace su {

// Optimal-string-alignment distance (insert, delete, substitute, swap of neighbours = 1 each),
// compared case-insensitively so `targetversion` and `targetVersoin` both find targetVersion.
int EditDistance(const std::string& a, const std::string& b);

// The candidate closest to word if its distance is <= max_distance (ties: the first), else "".
std::string ClosestMatch(const std::string& word, const std::vector<std::string>& candidates,
                         int max_distance = 2);

}  // namespace su
