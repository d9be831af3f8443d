# The Vulkan backend: loader (volk when available), glslang-compiled shaders embedded as SPIR-V.
find_package(Vulkan REQUIRED)
find_program(GLSLANG_VALIDATOR NAMES glslangValidator REQUIRED)

find_package(volk CONFIG QUIET)
if(volk_FOUND)
  set(QWEN3VK_VOLK_TARGET volk::volk)
else()
  # Debian ships volk as a bare volk.c / volk.h pair without a CMake package.
  find_file(VOLK_SOURCE volk.c PATHS /usr/include /usr/local/include NO_DEFAULT_PATH)
  find_path(VOLK_INCLUDE_DIR volk.h)
  if(VOLK_SOURCE AND VOLK_INCLUDE_DIR)
    add_library(qwen3vk_volk STATIC ${VOLK_SOURCE})
    target_include_directories(qwen3vk_volk PUBLIC ${VOLK_INCLUDE_DIR} ${Vulkan_INCLUDE_DIRS})
    target_link_libraries(qwen3vk_volk PUBLIC ${CMAKE_DL_LIBS})
    set_target_properties(qwen3vk_volk PROPERTIES COMPILE_OPTIONS "-w")
    set(QWEN3VK_VOLK_TARGET qwen3vk_volk)
  endif()
endif()

file(GLOB QWEN3VK_SHADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/shaders/*.comp)
file(GLOB QWEN3VK_SHADER_INCLUDES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/shaders/*.glsl)
set(QWEN3VK_SHADER_OUT ${PROJECT_BINARY_DIR}/shaders)
add_custom_command(
  OUTPUT ${QWEN3VK_SHADER_OUT}/shaders.c ${QWEN3VK_SHADER_OUT}/shaders.h
  COMMAND ${PROJECT_SOURCE_DIR}/tools/shaderc.sh ${GLSLANG_VALIDATOR} ${QWEN3VK_SHADER_OUT}
          ${QWEN3VK_SHADERS}
  DEPENDS ${PROJECT_SOURCE_DIR}/tools/shaderc.sh ${QWEN3VK_SHADERS} ${QWEN3VK_SHADER_INCLUDES}
  COMMENT "Compiling GLSL compute shaders to SPIR-V")

file(GLOB QWEN3VK_VULKAN_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/backend/vulkan/*.c)
target_sources(qwen3vk PRIVATE ${QWEN3VK_VULKAN_SOURCES} ${QWEN3VK_SHADER_OUT}/shaders.c)
target_include_directories(qwen3vk PRIVATE ${QWEN3VK_SHADER_OUT})
target_compile_definitions(qwen3vk PUBLIC QWEN3VK_HAVE_VULKAN=1)
if(QWEN3VK_VOLK_TARGET)
  target_compile_definitions(qwen3vk PRIVATE QWEN3VK_HAVE_VOLK=1 VK_NO_PROTOTYPES)
  target_link_libraries(qwen3vk PRIVATE ${QWEN3VK_VOLK_TARGET})
else()
  target_link_libraries(qwen3vk PRIVATE Vulkan::Vulkan)
endif()
