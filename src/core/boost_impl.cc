// The compiled parts of header-only Boost.JSON and Boost.URL, built once here.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
