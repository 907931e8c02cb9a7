#pragma once

// The one place that includes RapidJSON, with the project's settings.
// Only core/*.cpp include this header.

#define RAPIDJSON_HAS_STDSTRING 1
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
