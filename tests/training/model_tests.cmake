# The LibTorch model, checkpoint writing and the `--backend torch` reference backend.
# Fixtures (a Python-written checkpoint, inputs, PyTorch's outputs, a WAV clip) come from
# tools/reference/checkpoint_roundtrip.py; like the other generators it fails, never skips,
# without torch.
set(COUGHKIT_TORCH_MODEL_DIR ${COUGHKIT_TESTDATA_DIR}/torch_model)
add_test(NAME generate_torch_model_fixtures
  COMMAND ${COUGHKIT_REFERENCE_PYTHON} ${CMAKE_SOURCE_DIR}/tools/reference/checkpoint_roundtrip.py make
          --out ${COUGHKIT_TORCH_MODEL_DIR})
set_tests_properties(generate_torch_model_fixtures PROPERTIES FIXTURES_SETUP torch_model TIMEOUT 600)

add_library(coughkit_torch_model_test_support INTERFACE)
target_compile_definitions(coughkit_torch_model_test_support INTERFACE
  COUGHKIT_TORCH_MODEL_DIR="${COUGHKIT_TORCH_MODEL_DIR}"
  COUGHKIT_PYTHON="${COUGHKIT_REFERENCE_PYTHON}"
  COUGHKIT_ROUNDTRIP_PY="${CMAKE_SOURCE_DIR}/tools/reference/checkpoint_roundtrip.py")

coughkit_add_test(torch_model_test SOURCES torch_model_test.cpp FIXTURES torch_model
  LIBS coughkit_training coughkit_torch_model_test_support)

# The command line: `--backend torch` through the module, and the program not linking LibTorch.
coughkit_add_test(torch_cli_test SOURCES torch_cli_test.cpp FIXTURES torch_model
  LIBS coughkit_torch_model_test_support)
if(TARGET coughkit_torch)
  add_dependencies(torch_cli_test coughkit_torch coughkit)
endif()
